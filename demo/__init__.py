"""A local OpenAI-compatible stand-in: the model behind demo mode, and the tests' scriptable fake.

Outside the Django app on purpose: it fakes the API the app calls, so it imports nothing of the
app (`mode` alone reads the app's settings, to tell whether demo mode is on).
"""
