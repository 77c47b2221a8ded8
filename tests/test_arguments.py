"""mingpt_lab.arguments: the argparse types, built on the configs' field rules, that turn numbers that
cannot work into one-line usage errors."""

import argparse

import pytest

from mingpt_lite.config import ChoiceRule

from mingpt_lab.arguments import from_rule, int_list, positive


def test_positive_numbers_pass_and_others_say_why():
    assert positive()("3") == 3 and positive(float)("0.5") == 0.5
    for text, says in [("0", "must be an integer >= 1, got 0"), ("-5", "must be an integer >= 1, got -5"),
                       ("2.5", "must be an integer >= 1, got '2.5'"), ("x", "must be an integer >= 1, got 'x'")]:
        with pytest.raises(argparse.ArgumentTypeError, match=says):
            positive()(text)
    for text, says in [("ten", "must be a finite number > 0, got 'ten'"), ("0", "must be a finite number > 0, got 0")]:
        with pytest.raises(argparse.ArgumentTypeError, match=says):
            positive(float)(text)


def test_any_field_rule_reads_a_flag():
    choice = from_rule(ChoiceRule("pre", "post"))
    assert choice("post") == "post"
    with pytest.raises(argparse.ArgumentTypeError, match="must be one of"):
        choice("middle")


def test_int_lists_have_a_floor_and_no_empty_list():
    assert int_list(0)("0,1, 2") == [0, 1, 2] and int_list(256)("256,512") == [256, 512]
    for text in ("", "1,,x", "-1,2"):
        with pytest.raises(argparse.ArgumentTypeError):
            int_list(0)(text)
    with pytest.raises(argparse.ArgumentTypeError, match=r"must be an integer >= 256, got 100 \(in '100'\)"):
        int_list(256)("100")


def test_a_parser_turns_them_into_usage_errors(capsys):
    parser = argparse.ArgumentParser(prog="demo")
    parser.add_argument("--iters", type=positive())
    with pytest.raises(SystemExit) as done:
        parser.parse_args(["--iters", "-5"])
    assert done.value.code == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == "demo: error: argument --iters: must be an integer >= 1, got -5"
