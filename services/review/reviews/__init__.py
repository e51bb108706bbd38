"""Reviews: assignment of reviewers, the rubric, scores and the blind round."""
