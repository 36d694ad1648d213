#!/usr/bin/env python3
"""Creates a container on an Azure Blob endpoint with Shared Key auth (Azure Storage REST API, "Authorize with
Shared Key"), for benchmarks on Azurite: cloudmount itself never creates containers.
   azure-container.py ENDPOINT ACCOUNT KEY CONTAINER [public]   (ENDPOINT like http://127.0.0.1:10000/devstoreaccount1)
With "public", blobs can be read anonymously (x-ms-blob-public-access: blob), so curl can GET them."""
import base64, hashlib, hmac, sys, urllib.request, urllib.parse
from email.utils import formatdate

endpoint, account, key, container = sys.argv[1:5]
url = f"{endpoint.rstrip('/')}/{container}?restype=container"
path = urllib.parse.urlparse(url).path
date = formatdate(usegmt=True)
version = "2021-08-06"
public = len(sys.argv) > 5 and sys.argv[5] == "public"
headers = {"x-ms-date": date, "x-ms-version": version}
if public:
    headers["x-ms-blob-public-access"] = "blob"
canonical = "".join(f"{k}:{v}\n" for k, v in sorted(headers.items()))
string_to_sign = "PUT\n" + "\n" * 11 + canonical + f"/{account}{path}\nrestype:container"
signature = base64.b64encode(hmac.new(base64.b64decode(key), string_to_sign.encode(), hashlib.sha256).digest()).decode()
request = urllib.request.Request(url, method="PUT", data=None, headers={
    **headers, "Authorization": f"SharedKey {account}:{signature}", "Content-Length": "0"})
try:
    urllib.request.urlopen(request).read()
except urllib.error.HTTPError as e:
    if e.code != 409:  # already exists
        sys.exit(f"cannot create container {container}: {e.code} {e.read().decode(errors='replace')[:300]}")
