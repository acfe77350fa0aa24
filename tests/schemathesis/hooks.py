"""Strategies for the custom string formats of Probity's OpenAPI document.

The document states a credit code's and an identity number's pattern and length, and
names their format (`credit-code`, `resident-identity-number`, `credit-code-or-blank`):
their check characters are beyond what a pattern can say. These strategies draw values
with correct check characters, so that schema-valid data is valid to the server too
(the checks themselves are crates/domain/src/ids.rs).
"""

import base64
import datetime
import json

import schemathesis
from hypothesis import strategies as st

CREDIT_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
CREDIT_WEIGHTS = [pow(3, i, 31) for i in range(17)]
ORG_WEIGHTS = [3, 7, 9, 10, 5, 8, 4, 2]
IDENTITY_WEIGHTS = [pow(2, 17 - i, 11) for i in range(17)]
IDENTITY_CHECK = "10X98765432"


def org_value(c):
    return int(c) if c.isdigit() else ord(c) - ord("A") + 10


def credit_code(head, division, org_body):
    check = 11 - sum(org_value(c) * w for c, w in zip(org_body, ORG_WEIGHTS)) % 11
    org = org_body + {10: "X", 11: "0"}.get(check, str(check))
    first17 = head + division + org
    total = sum(CREDIT_ALPHABET.index(c) * w for c, w in zip(first17, CREDIT_WEIGHTS))
    return first17 + CREDIT_ALPHABET[(31 - total % 31) % 31]


alphabet = st.sampled_from(CREDIT_ALPHABET)
digits = st.sampled_from("0123456789")
credit_codes = st.builds(
    credit_code,
    st.text(alphabet, min_size=2, max_size=2),
    st.text(digits, min_size=6, max_size=6),
    st.text(alphabet, min_size=8, max_size=8),
)


def identity_number(area, birth, serial):
    first17 = area + birth.strftime("%Y%m%d") + serial
    total = sum(int(c) * w for c, w in zip(first17, IDENTITY_WEIGHTS))
    return first17 + IDENTITY_CHECK[total % 11]


identity_numbers = st.builds(
    identity_number,
    st.text(digits, min_size=6, max_size=6),
    st.dates(datetime.date(1000, 1, 1), datetime.date(9999, 12, 31)),
    st.text(digits, min_size=3, max_size=3),
)

schemathesis.openapi.format("credit-code", credit_codes)
schemathesis.openapi.format("credit-code-or-blank", st.one_of(st.just(""), credit_codes))
schemathesis.openapi.format("resident-identity-number", identity_numbers)



# The lists' cursors: opaque to a client (only a `next_cursor` the list returned is
# one, anything else is 422), each list's its own kind (a format each). Behind the
# opacity, URL-safe base64 of a JSON array of the last row's sort key
# (crates/views/src/sql.rs): complaints (received_at, id), supervision items
# (assigned_at, id), record proposals (submitted_at, id), records (decision_date, id),
# deadlines (due, case_id, case_type, kind). These strategies draw well-formed ones, as
# a client paging through a list would send.
def cursor(parts):
    raw = json.dumps(parts, ensure_ascii=False).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


ids = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=20)
days = st.dates(datetime.date(1000, 1, 1), datetime.date(9999, 12, 31)).map(str)
instants = st.datetimes(
    datetime.datetime(1000, 1, 1), datetime.datetime(9999, 12, 31), timezones=st.just(datetime.timezone.utc)
).map(lambda t: t.isoformat())
schemathesis.openapi.format("complaint-cursor", st.tuples(instants, ids).map(lambda k: cursor(list(k))))
schemathesis.openapi.format("supervision-cursor", st.tuples(instants, ids).map(lambda k: cursor(list(k))))
schemathesis.openapi.format("commitment-cursor", st.tuples(instants, ids).map(lambda k: cursor(list(k))))
schemathesis.openapi.format("proposal-cursor", st.tuples(instants, ids).map(lambda k: cursor(list(k))))
schemathesis.openapi.format("record-cursor", st.tuples(days, ids).map(lambda k: cursor(list(k))))
schemathesis.openapi.format(
    "deadline-cursor", st.tuples(days, ids, ids, ids).map(lambda k: cursor(list(k)))
)
