"""Helpers shared by test modules: plain functions and constants. Fixtures stay in conftest.py;
no test module imports another test module."""
