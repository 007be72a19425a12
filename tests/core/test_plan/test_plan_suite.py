"""Test plans written in PySOA 1.4's documented format, run by the pysoa.test.plan pytest plugin."""

from __future__ import annotations

import os

from pysoa.test.plan import ServicePlanTestCase
from tests.core.test_plan.plan_service import PlanServer


class TestPlanService(ServicePlanTestCase):
    server_class = PlanServer
    server_settings = {}
    fixture_path = os.path.join(os.path.dirname(__file__), "fixtures")
    model_constants = {"test_users": [{"id": 1838, "username": "john.smith"}, {"id": 1792}]}
