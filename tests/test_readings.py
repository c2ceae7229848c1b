"""The arithmetic engine: every reading a row's printed numbers allow, chosen by the identities."""

from __future__ import annotations

import time

from nianbao.identities import RowOptions, choose_readings, identities, row_groups
from nianbao.readings import Piece, complete, forced, holds, row_readings
from nianbao.spec import rows

T3 = [((0, 1, 2, 3, 4, 5), 6)]
T4 = [((0, 1, 2, 3), 4), ((5, 6, 7, 8), 9), ((10, 11, 12, 13), 14)]


def run(digits: str) -> Piece:
    return Piece(int(digits) if len(digits) <= 18 else None, digits)


def test_a_glued_row_is_cut_where_its_row_sum_holds():
    readings = row_readings([run("713000074")], 7, T3)
    assert readings[0].values == (71, 3, 0, 0, 0, 0, 74)
    assert readings[0].kind == "split" and readings[0].violations == 0


def test_a_run_the_sum_allows_two_ways_gives_both_at_the_same_cost():
    readings = row_readings([run("110000011")], 7, T3)
    top = [r for r in readings if r.cost == readings[0].cost]
    assert {r.values for r in top} == {(1, 10, 0, 0, 0, 0, 11), (11, 0, 0, 0, 0, 0, 11)}


def test_a_published_row_that_cannot_add_up_keeps_its_cheapest_reading_as_broken():
    """d08's （七）总计 printed `20000011`: no cut adds up; the published error must survive."""
    readings = row_readings([run("20000011")], 7, T3)
    broken = [r for r in readings if r.violations]
    assert (2, 0, 0, 0, 0, 0, 11) in {r.values for r in broken}


def test_a_row_printed_cell_for_cell_is_never_re_read_to_fix_its_sum():
    pieces = [Piece(v, str(v)) for v in (5, 0, 0, 0, 0, 0, 6)]
    readings = row_readings(pieces, 7, T3)
    assert readings == [readings[0]] and readings[0].values == (5, 0, 0, 0, 0, 0, 6)
    assert readings[0].violations == 1


def test_a_number_split_by_a_space_inside_one_cell_is_joined():
    pieces = [Piece(1, "1"), Piece(4, "4", gap="in_cell"), Piece(0, "0"), Piece(0, "0"), Piece(0, "0"),
              Piece(2, "2"), Piece(19, "19")]
    readings = row_readings(pieces, 7, T3)
    assert readings[0].values[0] == 14 and readings[0].kind in ("merged", "short")


def test_decimals_parted_by_a_space_are_one_amount():
    assert row_readings([Piece(24, "24"), Piece(9.1, "9", decimal=".1", gap="in_cell")], 1)[0].values == (249.1,)
    assert row_readings([Piece(125.61, "125", decimal=".61"), Piece(43, "43", gap="in_cell")], 1)[0].values == (125.6143,)


def test_a_signed_change_glued_to_its_neighbours_is_cut_with_its_sign():
    """d06 2019 table 二 `0+34636` (上一年项目数量, 本年增/减, 处理决定数量)."""
    pieces = [Piece(0, "0"), Piece(34636, "34636", sign="+", gap="none")]
    values = {r.values for r in row_readings(pieces, 3)}
    assert (0, 34, 636) in values


def test_a_negative_number_goes_only_where_the_template_has_a_change():
    """`24-20` under 上一年项目数量, 本年增/减, 处理决定数量: one cut either way, but a count
    (处理决定数量) is never negative, so only 24, -2, 0 is a reading."""
    pieces = [Piece(24, "24"), Piece(-20, "20", sign="-", gap="none")]
    unlimited = {r.values for r in row_readings(pieces, 3)}
    assert (2, 4, -20) in unlimited  # with no template to say so, both cuts are as cheap
    readings = row_readings(pieces, 3, signed=(1,))
    assert readings[0].values == (24, -2, 0)
    assert all(v is None or v >= 0 for r in readings for j, v in enumerate(r.values) if j != 1)
    # a row of counts only: the minus number is never put in a cell
    assert all(v is None or v >= 0 for r in row_readings(pieces, 3, signed=()) for v in r.values)


def test_a_printed_sign_starts_the_change_cell():
    """`40+3462`: the + opens 本年增/减, so 上一年项目数量 is 40 in every reading (not 4 with a 0 change)."""
    pieces = [Piece(40, "40"), Piece(3462, "3462", sign="+", gap="none")]
    readings = row_readings(pieces, 3, signed=(1,))
    assert {r.values[0] for r in readings} == {40}
    assert (40, 3, 462) in {r.values for r in readings}


def test_a_long_run_of_big_counts_is_cut_where_its_sum_holds():
    """A crawler's `1147138152852781458` (19 digits; 1147+138+15+28+52+78 = 1458): every cut of it costs
    the same, so only pruning what cannot add up finds the one reading within the step budget."""
    readings = row_readings([Piece(None, "1147138152852781458")], 7, T3)
    assert readings[0].values == (1147, 138, 15, 28, 52, 78, 1458) and readings[0].violations == 0


def test_pruning_keeps_readings_whose_missing_cell_excuses_the_sum():
    """What is left cannot reach the total only if no cell is missing: a reading with a missing cell
    (its sum is then open) must still be found, at its own cost."""
    pieces = [Piece(1, "1"), Piece(0, "00", gap="in_cell"), Piece(13, "13"), Piece(0, "0"), Piece(2, "2"),
              Piece(3, "3"), Piece(124, "124")]
    values = {r.values for r in row_readings(pieces, 7, T3)}
    assert (100, 13, 0, 2, 3, None, 124) in values
    assert (None, 1, 0, 13, 0, 23, 124) in values


def test_table_four_with_thirteen_two_digit_cells_printed_apart_reads_in_bounded_time():
    values = [12, 13, 0, 0, 25, 11, 14, 0, 0, 25, 10, 16, 0, 0, 26]
    pieces = []
    for v in values:
        for ch in str(v):
            pieces.append(Piece(int(ch), ch, gap="space"))
    started = time.process_time()
    readings = row_readings(pieces, 15, T4)
    assert readings[0].values == tuple(values)
    assert time.process_time() - started < 5  # bounded: a budget of search steps, never exponential


def test_runs_longer_than_any_row_are_not_searched():
    readings = row_readings([run("1" * 200)], 15, T4)
    assert len(readings) == 1 and readings[0].violations >= 1 and all(v is None for v in readings[0].values[1:])
    readings = row_readings([run("1" * 24)], 15, T4)
    assert readings and readings[0].violations >= 1


def test_one_identity_test_for_rows_tables_and_rules():
    assert holds([1, 2], [3]) and not holds([1, 2], [4])
    assert holds([1, None], [3]) and not holds([5, None], [3])
    assert forced([1, None], [3]) == {("l", 1): 2}
    assert forced([None, None], [0]) == {("l", 0): 0, ("l", 1): 0}
    assert complete((2, None, None, None, None, None, 2), T3) == (2, 0, 0, 0, 0, 0, 2)
    ident = next(i for i in identities("2021") if i.kind == "balance")
    cells = {k: 1 for k in ident.keys}
    assert ident.feasible(cells)
    cells[ident.lhs[0]] = None
    assert ident.forced(cells) == {ident.lhs[0]: 1}


def test_the_column_identities_choose_between_readings_a_row_cannot_tell_apart():
    """new_received `110000011` is 11/0/…/11 or 1/10/…/11; granted printed as 11 natural persons decides."""
    t3 = {r.row: r for r in rows("2021") if r.table == "t3"}
    options = []
    for row, printed in t3.items():
        keys = tuple(printed.keys)
        groups = row_groups(keys, "2021")
        if row == "new_received":
            pieces = [run("110000011")]
        elif row in ("granted", "total_processed"):
            pieces = [Piece(v, str(v)) for v in (11, 0, 0, 0, 0, 0, 11)]
        else:
            pieces = [Piece(0, "0")] * 7
        options.append(RowOptions(row, keys, groups, tuple(row_readings(pieces, 7, groups))))
    columns = [i for i in identities("2021") if i.kind in ("balance", "result_sum")]
    choice = choose_readings(options, columns)
    assert choice.picks["new_received"].values == (11, 0, 0, 0, 0, 0, 11)
    assert not choice.uncertain and choice.violations == 0


def test_readings_the_identities_cannot_tell_apart_are_uncertain_with_their_options():
    options = [RowOptions("normative_doc", ("a", "b", "c"), (), tuple(row_readings([run("1153")], 3)))]
    choice = choose_readings(options, [])
    assert {"a", "b", "c"} >= choice.uncertain and len(choice.options["normative_doc"]) == 3
    hinted = choose_readings(options, [], hints={"b": 1})
    assert hinted.picks["normative_doc"].values == (1, 1, 53) and not hinted.uncertain


def test_rows_printed_alike_are_read_once_and_alike():
    """row_readings remembers rows by what they print: the same answer again, a caller's edits to the
    list it got do not leak into the next answer, and 0 printed as 0.0 is not confused with 0."""
    from nianbao.readings import _readings_of

    run = [Piece(None, "713000074")]
    first = row_readings(run, 7, ((tuple(range(1, 6)), 6),))
    before = _readings_of.cache_info().hits
    again = row_readings([Piece(None, "713000074")], 7, ((tuple(range(1, 6)), 6),))
    assert _readings_of.cache_info().hits == before + 1
    assert again == first
    again.clear()
    assert row_readings(run, 7, ((tuple(range(1, 6)), 6),)) == first
    ints = row_readings([Piece(0, "0"), Piece(0, "0")], 2)[0].values
    floats = row_readings([Piece(0.0, "0"), Piece(0.0, "0")], 2)[0].values
    assert [type(v) for v in ints] == [int, int] and [type(v) for v in floats] == [float, float]
    # a piece's gap is part of the key: the same digits across a line break are not one number
    assert row_readings([Piece(1, "1"), Piece(4, "4", gap="in_cell")], 1)[0].values == (14,)
    assert row_readings([Piece(1, "1"), Piece(4, "4", gap="line")], 1)[0].values == (1,)
