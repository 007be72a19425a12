"""The example service tested with a PySOA 1.4 test plan (plans/*.pysoa), collected by soa-core's plan plugin."""

from __future__ import annotations

import os

from example_service.server import Server
from pysoa.test.plan import ServicePlanTestCase


class ExampleServicePlans(ServicePlanTestCase):
    # Named as PySOA's documentation names plan classes: the plugin collects every ServicePlanTestCase subclass.
    server_class = Server
    server_settings = {}
    fixture_path = os.path.join(os.path.dirname(__file__), "plans")
