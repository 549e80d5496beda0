"""Field-sales backend: the API behind the BD mobile app. ``app.factory.create_app`` builds it."""
