"""Tests of vlassdask.survey and the survey CLI."""
