"""mingpt_lab.arguments: the argparse types that turn numbers that cannot work into one-line usage errors."""

import argparse

import pytest

from mingpt_lab.arguments import int_list, positive


def test_positive_numbers_pass_and_others_say_why():
    assert positive()("3") == 3 and positive(float)("0.5") == 0.5
    for text, says in [("0", "must be above 0, got 0"), ("-5", "must be above 0, got -5"),
                       ("2.5", "expected a whole number, got '2.5'"), ("x", "expected a whole number")]:
        with pytest.raises(argparse.ArgumentTypeError, match=says):
            positive()(text)
    with pytest.raises(argparse.ArgumentTypeError, match="expected a number, got 'ten'"):
        positive(float)("ten")


def test_int_lists_have_a_floor_and_no_empty_list():
    assert int_list(0)("0,1, 2") == [0, 1, 2] and int_list(256)("256,512") == [256, 512]
    for text in ("", "1,,x", "-1,2"):
        with pytest.raises(argparse.ArgumentTypeError):
            int_list(0)(text)
    with pytest.raises(argparse.ArgumentTypeError, match="of at least 256, got '100'"):
        int_list(256)("100")


def test_a_parser_turns_them_into_usage_errors(capsys):
    parser = argparse.ArgumentParser(prog="demo")
    parser.add_argument("--iters", type=positive())
    with pytest.raises(SystemExit) as done:
        parser.parse_args(["--iters", "-5"])
    assert done.value.code == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == "demo: error: argument --iters: must be above 0, got -5"
