"""Telling people apart at school scale: the identification rule calibrated on the register's own
reference photos (:mod:`.calibration`), applied to each face (:mod:`.rule`), kept in the database
with its basis (:mod:`.store`), checked at enrolment (:mod:`.guard`) and reported by
``pipeline consent check`` (:mod:`.check`)."""
