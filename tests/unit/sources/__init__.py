"""Tests of analyzer.sources: file imports, the API export, and the fake Twilio."""
