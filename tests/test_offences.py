import numpy as np
import pytest

from hotspots.core.errors import HotspotsError
from hotspots.crime.offences import UNKNOWN, harm_weights, normalise_name, vocabulary


def test_every_source_name_maps_to_one_vocabulary():
    v = vocabulary()
    names = np.array(["Violence and sexual offences", "violent-crime", "Violent crime", "criminal-damage-arson",
                      "Violence with injury", "Robbery of personal property", "anti-social-behaviour",
                      "Possession of weapons offences"], dtype=object)
    codes, known = v.lookup(names)
    assert known.all()
    assert codes.tolist() == ["violence_and_sexual_offences", "violence_and_sexual_offences",
                              "violence_and_sexual_offences", "criminal_damage_and_arson", "violence_with_injury",
                              "robbery_of_personal_property", "anti_social_behaviour", "possession_of_weapons"]
    groups = v.group_of(codes)
    assert groups[4] == "violence_and_sexual_offences" and groups[5] == "robbery"


def test_unknown_offences_become_other():
    codes, known = vocabulary().lookup(np.array(["Jaywalking", None], dtype=object))
    assert codes.tolist() == [UNKNOWN, UNKNOWN] and not known.any()


def test_police_detected_offences():
    detected = vocabulary().police_detected()
    assert {"possession_of_weapons", "drugs", "stop_and_search"} <= set(detected)
    assert "violence_with_injury" not in detected


def test_harm_weights_from_cchi_tables():
    w = harm_weights()
    assert w["violence_with_injury"] == 365.0 and w["homicide"] == 5475.0
    assert w["violence_and_sexual_offences"] == 194.21 and w["shoplifting"] == 1.0
    assert w["anti_social_behaviour"] == 0.0 and w[UNKNOWN] == w["other_crime"]
    assert set(w) == set(vocabulary().codes)


def test_harm_override(tmp_path):
    table = tmp_path / "harm.csv"
    table.write_text("offence,cchi_days\nRobbery,400\nviolent-crime,200\n")
    w = harm_weights(table)
    assert w["robbery"] == 400.0 and w["violence_and_sexual_offences"] == 200.0
    table.write_text("offence,cchi_days\nJaywalking,3\n")
    with pytest.raises(HotspotsError, match="line 2 offence='Jaywalking'"):
        harm_weights(table)
    table.write_text("offence,days\nRobbery,3\n")
    with pytest.raises(HotspotsError, match="needs columns offence,cchi_days"):
        harm_weights(table)
    table.write_text("offence,cchi_days\nRobbery,-3\n")
    with pytest.raises(HotspotsError, match="zero or more"):
        harm_weights(table)


def test_normalise_name():
    assert normalise_name(" Criminal-damage & ARSON ") == "criminal damage arson"
