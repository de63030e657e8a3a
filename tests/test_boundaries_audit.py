"""The audit chain's hashing, seal payload and per-link check, with no database (the walk over
the database is tested in test_audit.py). `make mutation` runs these against mutants of
labeling/audit/chain.py."""
from __future__ import annotations

import datetime as dt
import hashlib

import pytest

from labeling.audit import chain

AT = dt.datetime(2026, 5, 4, 11, 0, 0, 123, tzinfo=dt.timezone(dt.timedelta(hours=2)))  # 09:00:00.000123 UTC
EVENT = (42, AT, None, "frame.flag", "labeling.frame", "17", 3, None, '{"note": "é"}')
# PostgreSQL's own digest of that event as link 1 (aerie_audit_append's formula, run in psql):
# the database and this module must agree bit for bit.
PG_HASH = "bfbcc9a727b675285ca612498da46beca015b4c99705baf3b1d1c51dac13acb3"


def test_field_is_length_prefixed_and_null_is_empty():
    assert chain._field(None) == "0:"
    assert chain._field("") == "0:"
    assert chain._field(0) == "1:0"
    assert chain._field("a:b") == "3:a:b"
    assert chain._field("é") == "1:é"  # characters, as PostgreSQL's length()


def test_chain_hash_matches_postgresqls():
    assert chain.chain_hash(chain.GENESIS, 1, *EVENT) == PG_HASH


def test_chain_hash_is_the_documented_formula():
    utc = "2026-05-04T09:00:00.000123Z"
    message = ("f" * 64 + "1:7" + "2:42" + f"{len(utc)}:{utc}" + "1:5" + "10:frame.flag" + "14:labeling.frame"
               + "2:17" + "1:3" + "1:9" + "13:" + '{"note": "é"}')
    expected = hashlib.sha256(message.encode()).hexdigest()
    assert chain.chain_hash("f" * 64, 7, 42, AT, 5, "frame.flag", "labeling.frame", "17", 3, 9,
                            '{"note": "é"}') == expected
    # the instant counts, not how it is written
    assert chain.chain_hash("f" * 64, 7, 42, AT.astimezone(dt.timezone.utc), 5, "frame.flag", "labeling.frame", "17",
                            3, 9, '{"note": "é"}') == expected


def test_hash_and_seal_do_not_depend_on_the_servers_time_zone(settings):
    settings.TIME_ZONE = "Asia/Tokyo"  # the process's local time is now UTC+9
    assert chain.chain_hash(chain.GENESIS, 1, *EVENT) == PG_HASH
    assert chain.seal_payload(3, "ab", AT) == (
        b'{"at":"2026-05-04T09:00:00.000123+00:00","hash":"ab","kind":"aerie-audit-seal","seq":3}')


def test_every_field_and_its_boundary_changes_the_hash():
    base = [chain.GENESIS, 1, *EVENT]
    hashes = {chain.chain_hash(*base)}
    variants = [(0, "1" * 64), (1, 2), (2, 43), (3, AT + dt.timedelta(microseconds=1)), (4, 0), (5, "frame.flags"),
                (6, "labeling.fram"), (7, "1"), (8, 33), (9, 0), (10, '{"note": "e"}')]
    for i, value in variants:
        changed = list(base)
        changed[i] = value
        hashes.add(chain.chain_hash(*changed))
    assert len(hashes) == len(variants) + 1
    # the length prefix keeps field boundaries: moving a character across them changes the hash
    assert chain.chain_hash(chain.GENESIS, 1, 42, AT, None, "ab", "c", "", None, None, "") != \
        chain.chain_hash(chain.GENESIS, 1, 42, AT, None, "a", "bc", "", None, None, "")


def test_seal_payload_is_canonical_json_in_utc_microseconds():
    assert chain.seal_payload(3, "ab" * 32, AT) == (
        b'{"at":"2026-05-04T09:00:00.000123+00:00","hash":"' + b"ab" * 32 + b'","kind":"aerie-audit-seal","seq":3}')
    assert chain.seal_payload(3, "ab", AT.replace(microsecond=0)) == (
        b'{"at":"2026-05-04T09:00:00.000000+00:00","hash":"ab","kind":"aerie-audit-seal","seq":3}')


# ------------------------------------------------------------------------------ one link of the walk

def row(seq=1, prev=chain.GENESIS, hash_=PG_HASH, event_ref=42, event=EVENT):
    """A row as _WALK returns it: the link (seq, prev_hash, hash, event_id) and its event."""
    return (seq, prev, hash_, event_ref, *event)


def test_a_link_that_follows_and_matches_its_event_verifies():
    assert chain.link_problem(1, chain.GENESIS, row()) is None
    second = chain.chain_hash(PG_HASH, 2, *EVENT)
    assert chain.link_problem(2, PG_HASH, row(seq=2, prev=PG_HASH, hash_=second)) is None
    # every column of the event counts: an actor and a dataset too
    full = (43, AT, 5, "dataset.ingest", "labeling.dataset", "9", None, 9, "{}")
    third = chain.chain_hash(second, 3, *full)
    assert chain.link_problem(3, second, row(seq=3, prev=second, hash_=third, event_ref=43, event=full)) is None
    for i in (2, 7):  # actor, dataset
        changed = list(full)
        changed[i] = None
        assert chain.link_problem(3, second, row(seq=3, prev=second, hash_=third, event_ref=43, event=changed))


@pytest.mark.parametrize("seq, problem", [
    (2, "link 1 is missing (the chain jumps from 0 to 2)"),
    (0, "link 1 is missing (the chain jumps from 0 to 0)"),
])
def test_a_missing_link(seq, problem):
    assert chain.link_problem(1, chain.GENESIS, row(seq=seq)) == problem


def test_a_missing_link_is_reported_before_anything_else():
    assert chain.link_problem(5, PG_HASH, row(seq=6, prev="x", event=(None,) * 9)) == \
        "link 5 is missing (the chain jumps from 4 to 6)"


def test_a_link_that_does_not_follow_the_previous_one():
    assert chain.link_problem(4, "a" * 64, row(seq=4, prev="b" * 64)) == \
        "link 4 does not follow link 3 (its previous hash differs)"
    # reported before a missing event
    assert chain.link_problem(4, "a" * 64, row(seq=4, prev="b" * 64, event=(None,) * 9)) == \
        "link 4 does not follow link 3 (its previous hash differs)"


def test_a_link_whose_event_is_gone():
    assert chain.link_problem(1, chain.GENESIS, row(event=(None,) * 9)) == "link 1: event 42 is gone"


def test_a_link_whose_event_changed():
    changed = (42, AT, None, "frame.flag", "labeling.frame", "18", 3, None, '{"note": "é"}')
    assert chain.link_problem(1, chain.GENESIS, row(event=changed)) == \
        "link 1: event 42 (frame.flag labeling.frame:18) was changed after it was recorded"
    no_object = (42, AT, None, "auth.login", "", "", None, None, "{}")
    assert chain.link_problem(1, chain.GENESIS, row(event=no_object)) == \
        "link 1: event 42 (auth.login) was changed after it was recorded"
    # the stored hash itself altered
    assert chain.link_problem(1, chain.GENESIS, row(hash_="0" + PG_HASH[1:])) == \
        "link 1: event 42 (frame.flag labeling.frame:17) was changed after it was recorded"
