"""Test doubles of the services the analyzer talks to, served on 127.0.0.1."""
