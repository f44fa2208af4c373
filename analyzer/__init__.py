"""analyzer: find duplicate SMS in Twilio Programmable Messaging logs.

The library is organised one job a module: ``schema`` (the canonical message
schema), ``store`` (the Parquet message store), ``detect`` (duplicate clusters),
``simulate`` (synthetic data with known answers) and ``cli`` (the command line).
"""

__version__ = "0.1.0"
