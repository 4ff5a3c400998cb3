"""ModelArts API access: the httpx client, request signing and the local emulator. Only this package imports httpx."""
