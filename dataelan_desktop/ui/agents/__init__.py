"""The agents feature's widgets: the approval dialog, a tool call's block in the chat, the agent picker."""
