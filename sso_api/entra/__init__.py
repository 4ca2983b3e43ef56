"""Microsoft specifics: the authority's metadata and keys, msal, and id_token validation.

Nothing here knows Django REST framework or the sign-in policy; the flows call
:func:`sso_api.entra.client.entra_client` and get back validated
:class:`~sso_api.claims.MicrosoftClaims` or one of the errors in ``sso_api.exceptions``.
"""
