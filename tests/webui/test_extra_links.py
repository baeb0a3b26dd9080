"""Operator extra links on the task instance page: what a try pushed as ``_link_<name>`` XComs (a
TriggerDagRunOperator's triggered run) is shown as a link; anything but a web address is not."""

from __future__ import annotations

import re


def test_the_task_instance_page_links_to_the_triggered_run(seeded, logged_in):
    pushed = {
        "_link_Triggered DAG": f"/dags/shop/runs/{seeded.run_id}",
        "_link_Sneaky": "javascript:alert(1)",
    }
    seeded.push_xcoms("extract", pushed)

    page = logged_in("viewer").get("/dags/shop/tasks/extract", query_string={"run_id": seeded.run_id})

    text = page.get_data(as_text=True)
    links = re.findall(r'<p class="extra-links" id="extra-links">(.*?)</p>', text, re.S)
    assert links, text
    assert re.findall(r'<a class="button" href="([^"]*)">([^<]*)</a>', links[0]) == [
        (f"/dags/shop/runs/{seeded.run_id}", "Triggered DAG")
    ]
    assert logged_in("viewer").get(f"/dags/shop/runs/{seeded.run_id}").status_code == 200
