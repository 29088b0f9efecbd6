"""The console's pages, one module per page family. Each route parses the request, calls the service the
API calls, and renders; none decides anything."""
