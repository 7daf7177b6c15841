"""Outgoing record shapes. `native` is the CONTRACT §3 incident record."""
