"""Your written questions: `python questions.py LOGIN` prints them, with YOUR numbers.

The napkin questions' numbers are drawn for each student from their login (the name the course's
gradebook knows you by; case and surrounding spaces do not matter) and the course's term, so no
two students answer the same question. Nothing here computes an answer: work them out yourself,
with your own functions from assignment/ where they help.

    python questions.py LOGIN                      # your questions
    python questions.py LOGIN --template > written.toml   # a file to fill in, beside assignment/
    python questions.py LOGIN --check written.toml # what the grader would read in it

How the numbers are drawn (stable: the same login and term give the same numbers on any machine,
any Python from 3.10): each number is one entry of a fixed list, the entry at
int(sha256(TERM + "\\n" + login + "\\n" + question + "\\n" + field)[:8 bytes]) modulo the list's length.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import sys
from dataclasses import dataclass, field

try:
    import tomllib
except ImportError:  # Python 3.10: the bundle installs tomli
    import tomli as tomllib

TERM = ""  # the course's term ([course] term in course.toml), written here by the release
ANSWERS_FILE = "written.toml"
MAX_CHARS = 6000  # per explanation; longer answers are cut here

# Accelerators: (how the question names it, its dense bf16 peak in FLOP/s). Data, not answers.
ACCELERATORS = [("H100 SXM GPUs", 989.5e12), ("A100 GPUs", 312e12)]
RECIPES = {  # the precision recipes the memory questions draw from: what each keeps per parameter
    "adamw-mixed": "AdamW with bf16 weights and bf16 gradients, an fp32 master copy of the weights and fp32 moments",
    "adamw-fp32": "AdamW with everything in fp32 (weights, gradients, both moments) and no master copy",
    "adamw-bf16-moments": "AdamW with bf16 weights, bf16 gradients and bf16 moments, plus an fp32 master copy of the weights",
    "adagrad-mixed": "AdaGrad with bf16 weights and bf16 gradients, an fp32 master copy and fp32 state",
    "adagrad-fp32": "AdaGrad with everything in fp32 and no master copy",
    "sgd-fp32": "SGD (no momentum) with everything in fp32 and no master copy",
    "sgd-mixed": "SGD (no momentum) with bf16 weights and bf16 gradients and an fp32 master copy",
}
OPTIMIZERS = {"sgd": "SGD (no momentum)", "adagrad": "AdaGrad", "adamw": "AdamW"}
CRUNCHER_RECIPES = {  # Problem 7's recipes for the Cruncher question
    "mixed": "bf16 weights and gradients, an fp32 master copy, fp32 optimizer state, bf16 activations",
    "autocast": "torch.autocast in bf16: fp32 weights, gradients and optimizer state, no master copy, bf16 activations",
    "fp32": "everything in fp32, no master copy, fp32 activations",
}


@dataclass(frozen=True)
class Napkin:
    """A question with drawn numbers: `fields` name the lists drawn from, `asks` the answer keys."""

    id: str
    text: str  # str.format'ed with the drawn numbers (shown with `number`)
    fields: dict
    asks: dict  # answer key -> what to give


NAPKIN = [
    Napkin(
        "training_days",
        "A model of {params} parameters is trained on {tokens} tokens on {gpus} {accelerator} "
        "({peak} FLOP/s each, dense bf16) at a model FLOPs utilisation (MFU) of {mfu}.",
        {"params": [1.3e9, 2.7e9, 6.7e9, 13e9, 34e9, 70e9, 175e9, 405e9], "tokens": [300e9, 1e12, 2e12, 4e12, 8e12, 15e12],
         "gpus": [128, 256, 512, 1024, 2048, 4096, 8192], "accelerator": ACCELERATORS, "mfu": [0.3, 0.35, 0.4, 0.45, 0.5, 0.55]},
        {"training_days": "how many days the training takes (unrounded)"},
    ),
    Napkin(
        "max_params",
        "{gpus} GPUs of {memory} bytes of memory each train a model with {recipe}. Ignore activations "
        "and everything else that is not per parameter.",
        {"gpus": [2, 4, 8, 16, 32, 64], "memory": [24e9, 40e9, 80e9, 141e9], "recipe": list(RECIPES)},
        {"max_params": "the largest number of parameters that fits"},
    ),
    Napkin(
        "budget_params",
        "You may use {gpus} {accelerator} ({peak} FLOP/s each, dense bf16) at MFU {mfu} for {days} days, "
        "and you will train on {tokens} tokens.",
        {"gpus": [64, 128, 256, 512, 1024, 2048], "accelerator": ACCELERATORS, "mfu": [0.3, 0.35, 0.4, 0.45, 0.5],
         "days": [3, 7, 14, 30], "tokens": [500e9, 1e12, 2e12, 5e12, 10e12]},
        {"budget_params": "the number of parameters of the largest model the budget trains (the lecture's rule of thumb)"},
    ),
    Napkin(
        "stack_flops",
        "A stack of three bias-free linear layers maps widths {w0} -> {w1} -> {w2} -> {w3}. One forward and "
        "one backward pass run on {tokens} tokens; the input data needs no gradient.",
        {"w0": [1024, 2048, 4096], "w1": [1024, 2048, 4096], "w2": [512, 1024, 2048], "w3": [256, 512, 1024],
         "tokens": [1024, 2048, 4096, 8192]},
        {"stack_flops": "the FLOPs of that forward and backward pass, counted exactly"},
    ),
    Napkin(
        "cruncher_bytes",
        "The Cruncher of Problem 5 with dim {dim}, {layers} layers and batch {batch} is trained with {optimizer} "
        "in this recipe: {recipe}.",
        {"dim": [512, 1024, 2048, 4096], "layers": [2, 4, 8, 16, 24], "batch": [8, 16, 32, 64, 128],
         "optimizer": ["sgd", "adagrad", "adamw"], "recipe": list(CRUNCHER_RECIPES)},
        {"cruncher_bytes": "the bytes of parameters, activations, gradients, master copy and optimizer state together"},
    ),
    Napkin(
        "utilisation",
        "One training step of a {params}-parameter model on {tokens_per_gpu} tokens per GPU takes {seconds} s "
        "on each of {gpus} H100 SXM GPUs (989.5e12 FLOP/s each, dense bf16). The run recomputes every layer's "
        "forward pass during the backward pass (full activation checkpointing).",
        {"model": [(1.0e9, 16384), (2.0e9, 8192), (4.0e9, 4096), (8.0e9, 2048), (16e9, 1024)], "scale": [1.0, 1.2, 1.4],
         "seconds": [0.22, 0.25, 0.28, 0.31, 0.34, 0.37], "gpus": [8, 16, 64, 256, 1024]},
        {"mfu": "the model FLOPs utilisation (MFU) of the step", "hfu": "the hardware FLOPs utilisation (HFU) of the step"},
    ),
]

EXPLAIN = {
    "six_nd": "Derive the 6 in 6ND: which matrix products does one bias-free linear layer compute in its forward "
    "and backward pass, and how many FLOPs does each cost per parameter per token? Then say why the first "
    "layer of a network costs less, and how much less.",
    "sharing": "Give a concrete model in which parameter sharing makes 6ND (N = the number of parameters) "
    "miscount the training FLOPs, and say by how much it is off.",
    "mfu_hfu": "Define MFU and HFU. With activation recomputation (checkpointing), which of the two changes and "
    "which does not, and why is MFU the number to report when comparing runs?",
    "bf16_fp16": "Why do large-model recipes train in bfloat16 rather than float16? Argue from the two formats' "
    "exponent and mantissa bits, and say what float16 training needs that bfloat16 does not.",
    "memory": "Where does training memory go? Name each kind of value a training step keeps, what it grows with, "
    "and what torch.autocast keeps that a recipe with bf16 weights and an fp32 master copy does not "
    "(think of the low-precision copies of the weights it makes for the matmuls).",
}


def identity(login: str) -> str:
    """The login as the draws see it: surrounding spaces dropped, case folded."""
    return login.strip().casefold()


def _pick(term: str, login: str, question: str, name: str, choices: list):
    key = "\n".join((term, identity(login), question, name)).encode()
    return choices[int.from_bytes(hashlib.sha256(key).digest()[:8], "big") % len(choices)]


def draw(login: str, term: str = TERM) -> dict[str, dict]:
    """question id -> {field: the drawn value}: the numbers of `login`'s napkin questions."""
    return {q.id: {name: _pick(term, login, q.id, name, choices) for name, choices in q.fields.items()} for q in NAPKIN}


def number(value) -> str:
    """A number as the questions print it: 70e9, 1.3e9, 989.5e12, 0.45, 2048."""
    if isinstance(value, int) or value < 1e4:
        return f"{value:g}"
    exponent = 3 * int(math.floor(math.log10(value) / 3))
    return f"{value / 10**exponent:g}e{exponent}"


def _shown(values: dict) -> dict[str, str]:
    """The drawn values as the question's text names them (pairs unpacked, recipes described)."""
    shown = {}
    for name, value in values.items():
        if name == "accelerator":
            shown["accelerator"], shown["peak"] = value[0], number(value[1])
        elif name == "model":
            shown["params"], shown["tokens_per_gpu"] = number(value[0] * values["scale"]), number(value[1])
        elif name == "recipe":
            shown["recipe"] = RECIPES.get(value) or CRUNCHER_RECIPES[value]
        elif name == "optimizer":
            shown["optimizer"] = OPTIMIZERS[value]
        else:
            shown[name] = value if isinstance(value, str) else number(value)
    return shown


def render(login: str, term: str = TERM) -> str:
    """`login`'s written questions as text (numbers drawn, no answers)."""
    numbers = draw(login, term)
    drawn = f"{identity(login)!r}" + (f", term {term!r}" if term else "")
    lines = [f"Written questions for {drawn}. Answer in {ANSWERS_FILE}, beside assignment/.", "",
             "Napkin math (numbers graded within 2% of the exact value):"]
    for n, question in enumerate(NAPKIN, 1):
        lines.append(f"{n}. {question.text.format(**_shown(numbers[question.id]))}")
        lines += [f"   -> [napkin] {key}: {what}" for key, what in question.asks.items()]
    lines += ["", "Explanations (a few sentences each, marked by the course staff):"]
    lines += [f"-> [explain] {key}: {prompt}" for key, prompt in EXPLAIN.items()]
    return "\n".join(lines)


def template(login: str, term: str = TERM) -> str:
    """An answers file to fill in: every key there, commented out until answered."""
    lines = [f"# Written answers. Fill in your values; {ANSWERS_FILE} goes beside assignment/ (python -m submit packs it).",
             f"login = {json.dumps(identity(login))}", f"term = {json.dumps(term)}", "", "[napkin]  # plain numbers: 6.3e24, 143.9, 4e10"]
    lines += [f"# {key} = " for question in NAPKIN for key in question.asks]
    lines += ["", '[explain]  # text; """triple quotes""" span lines']
    lines += [f'# {key} = """\n# """' for key in EXPLAIN]
    return "\n".join(lines) + "\n"


# --- reading an answers file (the grader reads it with this same code) ------------------------------


@dataclass
class Answers:
    login: str | None = None
    term: str | None = None
    napkin: dict[str, float] = field(default_factory=dict)
    explain: dict[str, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)  # what could not be read, in the student's words


def answer_keys() -> list[str]:
    return [key for question in NAPKIN for key in question.asks]


def read_answers(text: str) -> Answers:
    """Whatever of the file is usable, and a problem per part that is not (never an exception)."""
    answers = Answers()
    try:
        data = tomllib.loads(text)
    except Exception as error:  # TOMLDecodeError, or a RecursionError on absurd nesting
        answers.problems.append(f"{ANSWERS_FILE} is not valid TOML: {str(error)[:200]}")
        return answers
    answers.login = data.get("login") if isinstance(data.get("login"), str) else None
    answers.term = data.get("term") if isinstance(data.get("term"), str) else None
    _read_napkin(data.get("napkin", {}), answers)
    _read_explain(data.get("explain", {}), answers)
    unknown = sorted(set(data) - {"login", "term", "napkin", "explain"})
    if unknown:
        answers.problems.append(f"unknown top-level keys, ignored: {', '.join(unknown)[:200]}")
    return answers


def _read_napkin(table, answers: Answers) -> None:
    if not isinstance(table, dict):
        answers.problems.append("[napkin] must be a table")
        return
    for key, value in table.items():
        if key not in answer_keys():
            answers.problems.append(f"[napkin] {key[:60]}: no such question, ignored")
            continue
        try:
            if isinstance(value, bool) or not isinstance(value, (int, float, str)):
                raise ValueError
            parsed = float(value)
            if not math.isfinite(parsed):
                raise ValueError
        except (ValueError, OverflowError):
            answers.problems.append(f"[napkin] {key}: not a finite number, so not graded")
            continue
        answers.napkin[key] = parsed


def _read_explain(table, answers: Answers) -> None:
    if not isinstance(table, dict):
        answers.problems.append("[explain] must be a table")
        return
    for key, value in table.items():
        if key not in EXPLAIN:
            answers.problems.append(f"[explain] {key[:60]}: no such question, ignored")
        elif not isinstance(value, str):
            answers.problems.append(f"[explain] {key}: not text, so not marked")
        elif value.strip():
            if len(value.strip()) > MAX_CHARS:
                answers.problems.append(f"[explain] {key}: over {MAX_CHARS} characters; only the first {MAX_CHARS} are read")
            answers.explain[key] = value.strip()[:MAX_CHARS]


def check(text: str, login: str | None = None) -> list[str]:
    """What a student should fix before handing the file in (problems, unanswered questions, login)."""
    answers = read_answers(text)
    notes = list(answers.problems)
    if answers.login is None:
        notes.append("no login = \"...\": the grader draws your numbers from the login it knows you by; give it to catch a mix-up")
    elif login is not None and identity(answers.login) != identity(login):
        notes.append(f"login {answers.login!r} is not {identity(login)!r}")
    if answers.term is not None and answers.term != TERM:
        notes.append(f"term {answers.term!r} is not this bundle's {TERM!r}: regenerate the template")
    notes += [f"[napkin] {key}: unanswered" for key in answer_keys() if key not in answers.napkin]
    notes += [f"[explain] {key}: unanswered" for key in EXPLAIN if key not in answers.explain]
    return notes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python questions.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("login", help="your login, as the course's gradebook knows you")
    parser.add_argument("--template", action="store_true", help=f"print an answers file to fill in (save it as {ANSWERS_FILE})")
    parser.add_argument("--check", metavar="FILE", help="read an answers file as the grader will and list what is missing")
    args = parser.parse_args(argv)
    if args.check:
        with open(args.check, encoding="utf-8") as handle:
            notes = check(handle.read(), args.login)
        print("\n".join(notes) if notes else f"{args.check}: every question answered")
        return 1 if notes else 0
    print(template(args.login) if args.template else render(args.login))
    return 0


if __name__ == "__main__":
    sys.exit(main())
