"""The taskchat application: the command line and the processes it starts, composing api/, worker/ and
mcp_tools/ on the foundations in common/."""
