"""The two tiny pure-Python packages the image tests install: (import name, requirement).

Neither is installed on the test machine (test_local_venv checks), so an import that succeeds
proves the image provided it. Kept apart from conftest so action code imports no pytest.
"""

PKG_A = ("iso8601", "iso8601==2.1.0")
PKG_B = ("termcolor", "termcolor==3.3.0")
