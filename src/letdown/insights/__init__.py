"""Insights: pure functions over journal records, every figure an estimate with its source.

The supply model per side (``supply``), what a change of schedule would do and a plan
(``plan``), how long the stash lasts (``stash``), red flags and pregnancy notes
(``flags``), all put together for the household by ``report``. Nothing here imports the
pump, the twin or the web app.
"""
