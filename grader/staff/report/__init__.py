"""Trusted side (staff tooling): a class's results -> what the LMS, the students and the staff read.

    class_results.py  StudentResult, from the gradebook or a folder of results.json
    grades_csv.py     grades.csv (the LMS imports it)
    feedback.py       each student's feedback: failures first, the smallest failing input, hints
    class_summary.py  the class: scores, problems, flags, identical submissions, common failures
    pages.py          writes it all: grades.csv, feedback pages, report.md/.html (plots.py's charts)
    lms_export.py     the gradebook as Canvas's gradebook CSV (`python -m grader export`)
    shown_tests.py    the names students see for their tests, here and on Gradescope (standard library only)


    load_gradebook(gradebook.sqlite) \
                                      ->  [StudentResult]  ->  grades.csv              (the LMS imports it)
    load_class(results_dir)          /                     ->  feedback/STUDENT.md/.html (one per student)
                                                           ->  report.md, report.html   (the class, for staff)

Two sources, one loader each: the gradebook `python -m grader grade` writes (its staff overrides
and late penalties count), or a folder of Gradescope results.json files (RESULTS_DIR/STUDENT/
results.json, e.g. downloaded from Gradescope), where neither exists.

What a student may see is decided here: each test's name, score and the `output` the grader
already wrote into results.json (for a hidden test: its hint and the kind of failure, never a
value). Nothing else from a hidden test, and nothing from the grader's own log, reaches a page.
"""
