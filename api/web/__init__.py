"""The web pages: Jinja2 templates, static JavaScript/CSS and the road geometry the offline maps are drawn from."""
