"""Session-less "Sign in with Microsoft" (Entra ID) for Django REST backends.

Add ``"sso_api"`` to ``INSTALLED_APPS`` and mount ``sso_api.urls``; see the README.
"""

__version__ = "0.1.0"
