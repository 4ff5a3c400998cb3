"""poolshift: declarative rebalancing planner for Huawei Cloud ModelArts resource pools."""

__version__ = "0.1.0"
