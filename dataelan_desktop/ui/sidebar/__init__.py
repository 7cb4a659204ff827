"""The sidebar: projects and conversations, search, and what a person does to them."""
