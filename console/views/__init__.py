"""The console's pages, one blueprint per area; each handler calls one shared pipeline function."""
