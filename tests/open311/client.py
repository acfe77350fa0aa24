"""Drives Probity's /open311/v2/ with stock Open311 GeoReport v2 clients from PyPI.

- georeport 0.3.1 (Python 3): services, service definitions, request lists with every
  filter, single requests, in JSON and XML (its XML goes through xmltodict).
- three 0.8.0: POST and tokens (georeport has neither). three was written for Python 2;
  the one shim it needs on Python 3 is itertools.ifilter (= filter), and its XML
  conversion (relaxml, Python 2 only) is replaced by xmltodict on the instance.

Usage: client.py BASE_URL INTAKE_TOKEN HANDLER_TOKEN DECLINED_ID NOW_RFC3339
Prints one line per check; exits non-zero at the first failure.
"""

import datetime as dt
import itertools
import sys
import time

itertools.ifilter = filter  # three 0.8.0 imports it (Python 2)

import requests  # noqa: E402
import three  # noqa: E402
import xmltodict  # noqa: E402
from georeport import GeoReport  # noqa: E402

base, intake, handler, declined, now_text = sys.argv[1:6]
root = base + "/open311/v2"
now = dt.datetime.fromisoformat(now_text.replace("Z", "+00:00"))
PERSONAL = ["张三", "13800138000", "Permit", "办证"]


def check(cond, what):
    if not cond:
        print("FAIL:", what, flush=True)
        sys.exit(1)
    print("ok:", what, flush=True)


def as_list(x):
    return x if isinstance(x, list) else [x]


def w3(t):
    return t.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def eventually(fetch, pred, what):
    deadline = time.time() + 20
    while True:
        got = fetch()
        if pred(got):
            return got
        if time.time() > deadline:
            check(False, f"{what} (last answer: {got})")
        time.sleep(0.2)


json_client = GeoReport(root, output_format="json")
xml_client = GeoReport(root, output_format="xml")

# Services: the five complaint categories, in both formats.
codes = ["consultation", "help", "suggestion", "complaint", "report"]
services = json_client.get_service_list()
check([s["service_code"] for s in services] == codes, "services.json lists the categories")
check(all(s["metadata"] is True for s in services), "every service has metadata")
services_xml = as_list(xml_client.get_service_list())
check([s["service_code"] for s in services_xml] == codes, "services.xml lists the categories")
definition = json_client.get_service_definition("complaint")
check({a["code"] for a in definition["attributes"]} == {"title", "subject_code"},
      "services/complaint.json defines title and subject_code")
definition_xml = xml_client.get_service_definition("report")
check(definition_xml["service_code"] == "report", "services/report.xml")
check({a["code"] for a in as_list(definition_xml["attributes"]["attribute"])} == {"title", "subject_code"},
      "services/report.xml defines the attributes")

# Filing with three: a named complaint in JSON, an anonymous report in XML.
poster = three.Three(root, api_key=intake, format="json")
posted = poster.post("complaint", description="办证窗口拖延 Permit delayed for 40 days",
                     first_name="三", last_name="张", phone="13800138000",
                     **{"attribute[subject_code]": "113604000123456713"})
check(poster.post_response.status_code == 201, f"POST requests.json files a complaint ({posted})")
named = posted[0]["service_request_id"]
check(posted[0]["token"] == named and "15" in posted[0]["service_notice"],
      "the POST answers id, token and the reply time limit")

xml_poster = three.Three(root, api_key=intake, format="xml")
xml_poster.convert = lambda content, conversion: xmltodict.parse(content) if conversion else content
posted_xml = xml_poster.post("report", description="举报：项目承诺未兑现 A promise not kept")
check(xml_poster.post_response.status_code == 201, "POST requests.xml files a report")
anonymous = posted_xml["service_requests"]["request"]["service_request_id"]

# Refusals in the GeoReport error format.
refused = three.Three(root, api_key="not-a-token", format="json").post("complaint", description="x")
check(refused[0]["code"] == 401 and "unauthenticated" in refused[0]["description"],
      "an unknown api_key is refused (401)")
refused = three.Three(root, api_key=handler, format="json").post("complaint", description="x")
check(refused[0]["code"] == 403, "a handler's key may not file (403, as on the API)")
refused = poster.post("pothole", description=" ")
fields = " ".join(e["description"] for e in refused)
check(refused[0]["code"] == 422 and "service_code" in fields and "description" in fields,
      "bad fields are each named")

# Reading back, both formats, nothing personal.
one = json_client.get_service_request(named)
check(one["service_code"] == "complaint" and one["status"] == "open", "requests/{id}.json reads it back")
check("description" not in one and "agency_responsible" in one, "no description in a GET")
one_xml = xml_client.get_service_request(anonymous)
check(one_xml["service_code"] == "report" and one_xml["status"] == "open", "requests/{id}.xml reads it back")
for path in [f"requests/{named}.json", f"requests/{named}.xml", "requests.json", "requests.xml"]:
    text = requests.get(f"{root}/{path}").text
    check(not any(p in text for p in PERSONAL), f"GET {path} carries no personal data")
token = poster.token(named)
check(token[0]["service_request_id"] == named, "tokens/{token}.json names the request")

# Lists and filters (the list is read from the projection: wait for it).
both = eventually(lambda: json_client.get_service_requests(),
                  lambda got: {named, anonymous, declined} <= {r["service_request_id"] for r in got},
                  "requests.json lists every request")
check(True, "requests.json lists every request")
open_ids = {r["service_request_id"] for r in json_client.get_service_requests(status="open")}
check(named in open_ids and anonymous in open_ids and declined not in open_ids, "status=open")
closed = as_list(xml_client.get_service_requests(status="closed"))
check([r["service_request_id"] for r in closed] == [declined], "status=closed (XML) is the declined case")
check(closed[0]["status_notes"].startswith("不予受理"), "status_notes say why it is closed")
reports = json_client.get_service_requests(service_code="report")
check([r["service_request_id"] for r in reports] == [anonymous], "service_code=report")
inside = json_client.get_service_requests(start_date=w3(now - dt.timedelta(hours=1)),
                                          end_date=w3(now + dt.timedelta(hours=1)))
check({named, anonymous, declined} <= {r["service_request_id"] for r in inside},
      "start_date/end_date around now find them")
before = json_client.get_service_requests(start_date=w3(now - dt.timedelta(days=40)),
                                          end_date=w3(now - dt.timedelta(days=20)))
check(before == [], "a window before they were filed finds none")
xml_inside = xmltodict.parse(requests.get(f"{root}/requests.xml", params={
    "start_date": w3(now - dt.timedelta(hours=1)), "end_date": w3(now + dt.timedelta(hours=1)),
    "status": "open"}).content)
check({r["service_request_id"] for r in as_list(xml_inside["service_requests"]["request"])} >= {named, anonymous},
      "dates and status together in XML")
picked = json_client.get_service_requests(service_request_id=f"{named},{declined}")
check({r["service_request_id"] for r in picked} == {named, declined}, "service_request_id=a,b")
try:
    json_client.get_service_requests(start_date=w3(now - dt.timedelta(days=200)), end_date=w3(now))
    check(False, "a window over 90 days is refused")
except requests.HTTPError as e:
    check(e.response.json()[0]["code"] == 422, "a window over 90 days is refused")
try:
    xml_client.get_service_request("no-such-request")
    check(False, "an unknown request is 404")
except requests.HTTPError as e:
    err = xmltodict.parse(e.response.content)["errors"]["error"]
    check(as_list(err)[0]["code"] == "404", "an unknown request is 404 in XML errors")
print("done", named, anonymous)
