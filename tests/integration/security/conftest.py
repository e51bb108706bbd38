"""What the security tests share: one review database, each test's writes rolled back."""
import dataclasses

import pytest

from services.review import create_app as create_review
from services.review.db import db as review_db
from tests.conftest import migrated_database, rolled_back


@pytest.fixture(scope="session")
def review_url():
    return migrated_database("review", "_security")


@pytest.fixture
def review(settings, review_url):
    """The review service on the security tests' database; what a test writes is rolled back."""
    app = create_review(dataclasses.replace(settings, review_database_url=review_url))
    app.config["TESTING"] = True
    with rolled_back(review_db):
        yield app
