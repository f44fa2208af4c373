"""The fake's accounts and their secrets (made up: they open nothing)."""

ACCOUNT_SID = "AC" + "a1" * 16
AUTH_TOKEN = "tok" + "5e" * 14 + "cr"
API_KEY = "SK" + "b2" * 16
API_SECRET = "sec" + "7f" * 14 + "et"
SUBACCOUNT_SID = "AC" + "c3" * 16
SUBACCOUNT_TOKEN = "sub" + "9d" * 14 + "tk"
