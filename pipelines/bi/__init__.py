"""The BI app: a Streamlit app over the serving snapshot (`make bi`, docs/bi_connection_guide.md).

`app.py` is the page code Streamlit runs; `data.py` the queries it runs against the snapshot (plain
DuckDB, no Streamlit: tests and other readers use them too). Inside the `pipelines` package so that it
reuses the project's one formatter, catalogue and settings; Streamlit itself is the optional extra `bi`.
"""
