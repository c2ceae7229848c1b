from nianbao.identities import identities
from nianbao.spec import keys, rows


def test_both_templates_have_every_key_of_the_spec():
    assert len(keys("2019")) == 198
    assert len(keys("2021")) == 200


def test_rows_carry_labels_from_the_spec():
    r = {x.row: x for x in rows("2021") if x.table == "t3"}
    assert r["denied.state_secret"].label == "1.属于国家秘密"
    assert r["denied.state_secret"].parent == "（三）不予公开"
    assert len(r["new_received"].fields) == 7


def test_identities_cover_every_t3_cell():
    ids = identities("2021")
    covered = {k for i in ids for k in i.keys}
    assert {k for k in keys("2021") if k.startswith(("t3.", "t4."))} <= covered
    bal = next(i for i in ids if i.id == "t3.balance.total")
    cells = {"t3.new_received.total": 5, "t3.carried_over.total": 1,
             "t3.total_processed.total": 4, "t3.carried_forward.total": 2}
    assert bal.residual(cells) == 0
    assert bal.solve_for("t3.carried_forward.total", {**cells, "t3.carried_forward.total": None}) == 2
