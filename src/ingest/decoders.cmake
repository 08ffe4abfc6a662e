# Included by CMakeLists.txt (owned by the normaliser): what the shipper decoders need beyond
# the common list. The router library has no Beast and no dependency on ingest, so the
# handlers and their tests can use Router, HttpRequest and HttpResponse directly.
list(APPEND SAWMILL_INGEST_DEPS sawmill_http_router)
