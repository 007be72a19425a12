"""The example service's actions."""
