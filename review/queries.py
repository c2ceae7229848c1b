"""The list, the queues and the progress counts, computed in SQL one page at a time.

A page of the list costs one aggregate query over the findings of the reports on it, whatever
the size of the store; nothing here loads a report's extraction.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, case, exists, func, or_, select

from nianbao.review import schema as S
from nianbao.review.schema_team import signoffs
from nianbao.review.store import Store

PER_PAGE = 50
SORTS = ("open", "name", "agency", "year", "signed")
SEVERITIES = ("error", "warning", "info")

F, D = S.findings, S.documents
SHOWN = or_(F.c.active.is_(True), F.c.status == "corrected")  # what the page shows of a report


@dataclass(frozen=True)
class Filters:
    agency: str = ""
    year: int | None = None
    category: str = ""
    rule: str = ""
    status: str = ""
    signed: str = ""  # "yes" | "no" | ""
    sort: str = "open"
    page: int = 1


def _where(f: Filters) -> list[Any]:
    conds: list[Any] = []
    if f.agency:
        pat = "%" + f.agency.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        conds.append(or_(D.c.agency.like(pat, escape="\\"), D.c.name.like(pat, escape="\\")))
    if f.year is not None:
        conds.append(D.c.year == f.year)
    sub = [F.c.document_id == D.c.id, SHOWN]
    if f.category:
        sub.append(F.c.category == f.category)
    if f.rule:
        sub.append(F.c.rule == f.rule)
    if f.status:
        sub.append(F.c.status == f.status)
    if f.category or f.rule or f.status:
        conds.append(exists(select(F.c.id).where(and_(*sub))))
    has_signoff = exists(select(signoffs.c.document_id).where(signoffs.c.document_id == D.c.id))
    if f.signed == "yes":
        conds.append(has_signoff)
    elif f.signed == "no":
        conds.append(~has_signoff)
    return conds


def report_list(store: Store, f: Filters, per_page: int | None = PER_PAGE) -> dict[str, Any]:
    """One page of reports with their finding counts, the number matching, and the page count
    (`per_page=None`: every matching report, in order, as one page)."""
    conds = _where(f)
    counts = (select(
        F.c.document_id.label("doc"),
        *[func.sum(case((and_(F.c.status == "open", F.c.severity == s), 1), else_=0)).label(f"open_{s}")
          for s in SEVERITIES],
        func.sum(case((F.c.status == "open", 1), else_=0)).label("open_total"),
        func.sum(case((F.c.status != "open", 1), else_=0)).label("decided"),
        func.count().label("total"),
    ).where(SHOWN).group_by(F.c.document_id).subquery())
    cols = [D.c.id, D.c.name, D.c.agency, D.c.year, D.c.template, D.c.kind, D.c.error,
            *[func.coalesce(getattr(counts.c, f"open_{s}"), 0).label(f"open_{s}") for s in SEVERITIES],
            func.coalesce(counts.c.open_total, 0).label("open_total"),
            func.coalesce(counts.c.decided, 0).label("decided"), func.coalesce(counts.c.total, 0).label("total"),
            signoffs.c.who.label("signed_by"), signoffs.c.at.label("signed_at")]
    base = (select(*cols).select_from(D.outerjoin(counts, counts.c.doc == D.c.id)
                                      .outerjoin(signoffs, signoffs.c.document_id == D.c.id))
            .where(and_(*conds)) if conds else
            select(*cols).select_from(D.outerjoin(counts, counts.c.doc == D.c.id)
                                      .outerjoin(signoffs, signoffs.c.document_id == D.c.id)))
    order = {
        "open": [func.coalesce(counts.c.open_error, 0).desc(), func.coalesce(counts.c.open_total, 0).desc(),
                 D.c.name, D.c.id],
        "name": [D.c.name, D.c.id],
        "agency": [D.c.agency, D.c.year, D.c.id],
        "year": [D.c.year.desc(), D.c.agency, D.c.id],
        "signed": [signoffs.c.at.desc(), D.c.id],
    }.get(f.sort, [D.c.name, D.c.id])
    with store.engine.connect() as c:
        matching = c.execute(select(func.count()).select_from(D).where(and_(*conds)) if conds
                             else select(func.count()).select_from(D)).scalar_one()
        if per_page is None:
            rows = c.execute(base.order_by(*order)).all()
            return {"items": [dict(r._mapping) for r in rows], "matching": matching, "page": 1, "pages": 1,
                    "per_page": max(1, matching)}
        pages = max(1, -(-matching // per_page))
        page = min(max(1, f.page), pages)
        rows = c.execute(base.order_by(*order).limit(per_page).offset((page - 1) * per_page)).all()
    return {"items": [dict(r._mapping) for r in rows], "matching": matching, "page": page, "pages": pages,
            "per_page": per_page}


def unfiltered(f: Filters) -> bool:
    """The whole list, only sorted: every page of it can be cut from one ordered read."""
    return not _where(f)


def page_of(whole: dict[str, Any], page: int, per_page: int = PER_PAGE) -> dict[str, Any]:
    """One page cut from `report_list(…, per_page=None)`: the same rows in the same order as asking
    for that page (the order ends on the id, so it is total)."""
    matching = whole["matching"]
    pages = max(1, -(-matching // per_page))
    page = min(max(1, page), pages)
    return {"items": whole["items"][(page - 1) * per_page:page * per_page], "matching": matching, "page": page,
            "pages": pages, "per_page": per_page}


def review_order(store: Store) -> list[int]:
    """Every report id in the list's default order (most open errors first)."""
    counts = (select(F.c.document_id.label("doc"),
                     func.sum(case((and_(F.c.status == "open", F.c.severity == "error"), 1), else_=0)).label("e"),
                     func.sum(case((F.c.status == "open", 1), else_=0)).label("o"))
              .where(SHOWN).group_by(F.c.document_id).subquery())
    q = (select(D.c.id).select_from(D.outerjoin(counts, counts.c.doc == D.c.id))
         .order_by(func.coalesce(counts.c.e, 0).desc(), func.coalesce(counts.c.o, 0).desc(), D.c.name, D.c.id))
    with store.engine.connect() as c:
        return list(c.execute(q).scalars())


def neighbours(store: Store, doc_id: int, order: list[int] | None = None) -> tuple[int | None, int | None]:
    """The reports before and after this one in the list's default order."""
    ids = order if order is not None else review_order(store)
    try:
        i = ids.index(doc_id)
    except ValueError:
        return None, None
    return (ids[i - 1] if i > 0 else None), (ids[i + 1] if i + 1 < len(ids) else None)


def progress(store: Store) -> dict[str, int]:
    """Counts for the header of every page: reports signed off, findings decided."""
    with store.engine.connect() as c:
        reports = c.execute(select(func.count()).select_from(D)).scalar_one()
        signed = c.execute(select(func.count()).select_from(signoffs)).scalar_one()
        row = c.execute(select(func.count(), func.sum(case((F.c.status != "open", 1), else_=0)),
                               func.sum(case((F.c.status == "corrected", 1), else_=0))).where(SHOWN)).one()
    return {"reports": reports, "signed": signed, "findings": row[0] or 0, "decided": row[1] or 0,
            "corrected": row[2] or 0}


def queues(store: Store) -> list[dict[str, Any]]:
    """Per category and rule across reports: findings, reports, still open."""
    q = (select(F.c.category, F.c.rule, F.c.severity, func.count().label("findings"),
                func.count(func.distinct(F.c.document_id)).label("reports"),
                func.sum(case((F.c.status == "open", 1), else_=0)).label("open"))
         .where(SHOWN).group_by(F.c.category, F.c.rule, F.c.severity)
         .order_by(F.c.category, F.c.rule, F.c.severity))
    with store.engine.connect() as c:
        return [dict(r._mapping) for r in c.execute(q)]


def queue_findings(store: Store, category: str = "", rule: str = "", status: str = "open", page: int = 1,
                   per_page: int = PER_PAGE) -> dict[str, Any]:
    """One page of the findings of one category or rule, across reports."""
    conds = [SHOWN]
    if category:
        conds.append(F.c.category == category)
    if rule:
        conds.append(F.c.rule == rule)
    if status:
        conds.append(F.c.status == status)
    q = (select(F, D.c.name, D.c.agency, D.c.year, D.c.template).join(D, D.c.id == F.c.document_id)
         .where(and_(*conds)))
    with store.engine.connect() as c:
        matching = c.execute(select(func.count()).select_from(F).where(and_(*conds))).scalar_one()
        pages = max(1, -(-matching // per_page))
        page = min(max(1, page), pages)
        rows = c.execute(q.order_by(D.c.name, F.c.document_id, F.c.id).limit(per_page)
                         .offset((page - 1) * per_page)).all()
    import json

    items = []
    for r in rows:
        d = dict(r._mapping)
        d["keys"] = json.loads(d["keys"] or "[]")
        items.append(d)
    return {"items": items, "matching": matching, "page": page, "pages": pages}


def categories(store: Store) -> list[str]:
    with store.engine.connect() as c:
        return list(c.execute(select(F.c.category).where(SHOWN).distinct().order_by(F.c.category)).scalars())


def agencies(store: Store) -> list[str]:
    with store.engine.connect() as c:
        return list(c.execute(select(D.c.agency).where(D.c.agency.is_not(None)).distinct()
                              .order_by(D.c.agency)).scalars())
