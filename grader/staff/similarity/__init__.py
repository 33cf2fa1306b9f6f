"""Staff tooling: which submissions of a class look copied from each other.

    similarity.py          read each submission's modules, fingerprint their ASTs (winnowed k-grams), compare
                           a class through an inverted index (one sparse product), the pairs ranked
    similarity_report.py   the report: an HTML page (clusters, top pairs, their sources side by side) and pairs.csv
    similarity_planted.py  a class with planted copies, to measure the check against
"""
