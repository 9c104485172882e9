"""`workbench lint` and models.config model_version_policy / version_labels: what TF Serving really serves
(latest {num_versions}, all, specific {versions}), `specific` versions missing on disk, labels pointing at
versions that are not served, and the parsing of both fields. The versions are copies of the shared
half_plus_two SavedModel (no TensorFlow needed).
"""

from __future__ import annotations

import json
import shutil

import pytest

from workbench.core.tfserving.layout import CONFIG_FILE
from workbench.core.tfserving.lint import lint_base_folder
from workbench.core.tfserving.model_config import VersionPolicy, merge_model_config, parse_model_config

SRC = "saved_model_half_plus_two_2_versions"

LABEL_FLAG_HINT = (
    "labels are checked before any version has loaded, so without the flag the server fails with "
    "'Request to assign label to version {v} of model half, which is not currently available for "
    "inference'; fine if the flag is set, or if the labels are added by a config reload once the "
    "versions are AVAILABLE"
)


def _base(testdata, tmp_path, versions=("00000123", "00000124"), body=""):
    """tmp_path/models with half/<version> copies of the shared SavedModel and a models.config for
    `half` whose config block ends with `body`."""
    root = tmp_path / "models"
    for version in versions:
        shutil.copytree(testdata / SRC / version, root / "half" / version)
    root.mkdir(exist_ok=True)
    (root / CONFIG_FILE).write_text(
        'model_config_list {\n  config {\n    name: "half"\n    base_path: "/models/half"\n'
        f'    model_platform: "tensorflow"\n{body}  }}\n}}\n'
    )
    return root


def _found(findings):
    return [(f.level, f.message) for f in findings]


# ------------------------------------------------------------------ specific


def test_specific_version_missing_serves_nothing(tfserving_testdata, tmp_path):
    """The audit case: specific {7} with only 123 on disk, and a label at missing version 99."""
    root = _base(
        tfserving_testdata,
        tmp_path,
        versions=("00000123",),
        body="    model_version_policy { specific { versions: 7 } }\n"
        '    version_labels { key: "stable" value: 99 }\n',
    )
    half = root / "half"
    findings = lint_base_folder(root)
    assert _found(findings) == [
        (
            "error",
            (
                f"half: model_version_policy specific asks for version 7, but {half} has only version 123: "
                "TF Serving serves nothing for this model"
            ),
        ),
        (
            "error",
            (
                "half: version label 'stable' points at version 99, which TF Serving does not serve "
                f"(there is no version 99 under {half})"
            ),
        ),
        (
            "info",
            "half: versions 123; TF Serving serves nothing (model_version_policy specific {versions: 7})",
        ),
    ]
    assert findings[0].hint == (
        "TF Serving logs 'Version 7 of servable half, which was requested to be served as a 'specific' "
        "version in the servable's version policy, was not found in the file system' and keeps polling "
        "for it; at startup it does not open its ports until a version of half loads. Add the version "
        f"folder ({half}/7) or list a version that exists (123) in model_version_policy"
    )
    assert findings[1].hint == (
        "TF Serving rejects the config with 'Request to assign label to version 99 of model half, which is "
        "not currently available for inference'; with --allow_version_labels_for_unavailable_models=true "
        "it accepts it, but requests to /labels/stable fail until version 99 is served. Point the label "
        "at a served version, or serve version 99"
    )
    assert "by default" not in " ".join(f.message for f in findings)


def test_specific_some_missing_and_label_on_unserved_version(tfserving_testdata, tmp_path):
    root = _base(
        tfserving_testdata,
        tmp_path,
        body="    model_version_policy {\n      specific {\n        versions: 123\n        versions: 7\n"
        "      }\n    }\n"
        "    version_labels { key: 'stable' value: 123 }\n"
        "    version_labels { key: 'canary' value: 124 }\n",
    )
    half = root / "half"
    findings = lint_base_folder(root)
    assert _found(findings) == [
        (
            "error",
            (
                f"half: model_version_policy specific asks for version 7, which {half} does not have: "
                "TF Serving serves only 123 until it appears"
            ),
        ),
        (
            "error",
            (
                "half: version label 'canary' points at version 124, which TF Serving does not serve (it is on "
                "disk, but model_version_policy specific {versions: [7, 123]} does not serve it)"
            ),
        ),
        (
            "warning",
            (
                "half: version_labels (stable -> 123) need tensorflow_model_server "
                "--allow_version_labels_for_unavailable_models=true to start with this config"
            ),
        ),
        (
            "info",
            "half: versions 123, 124; TF Serving serves 123 (model_version_policy specific {versions: [7, 123]})",
        ),
    ]
    assert findings[0].hint == (
        "requests for /versions/7 fail with 'Servable not found for request: Specific(half, 7)' meanwhile; "
        f"add the version folder ({half}/7) or remove it from model_version_policy"
    )
    assert findings[1].hint.endswith("Point the label at a served version (123), or serve version 124")
    assert findings[2].hint == LABEL_FLAG_HINT.format(v=123)


def test_specific_all_present_and_empty_specific(tfserving_testdata, tmp_path):
    root = _base(
        tfserving_testdata, tmp_path, body="    model_version_policy { specific { versions: [123, 124] } }\n"
    )
    assert _found(lint_base_folder(root)) == [
        (
            "info",
            (
                "half: versions 123, 124; TF Serving serves 123, 124 "
                "(model_version_policy specific {versions: [123, 124]})"
            ),
        )
    ]
    (root / CONFIG_FILE).write_text(
        'model_config_list { config { name: "half" base_path: "/models/half" model_platform: "tensorflow" '
        "model_version_policy { specific {} } } }\n"
    )
    findings = lint_base_folder(root)
    assert _found(findings) == [
        (
            "error",
            (
                f"{root / CONFIG_FILE}: model half has model_version_policy specific with no versions: "
                "TF Serving serves nothing for it"
            ),
        ),
        ("info", "half: versions 123, 124; TF Serving serves nothing (model_version_policy specific {})"),
    ]
    assert findings[0].hint == "list the versions to serve (specific { versions: N }), or use latest"


# ------------------------------------------------------------------ latest / all / default


def test_latest_num_versions_more_than_on_disk_is_only_noted(tfserving_testdata, tmp_path):
    root = _base(
        tfserving_testdata, tmp_path, body="    model_version_policy: { latest: { num_versions: 5 } }\n"
    )
    assert _found(lint_base_folder(root)) == [
        (
            "info",
            (
                "half: versions 123, 124; TF Serving serves 123, 124 (model_version_policy latest {num_versions: 5})"
                "; num_versions 5 but 2 version(s) on disk: all are served, and newer versions are added as "
                "they appear"
            ),
        )
    ]


def test_latest_explicit_serves_highest_and_label_on_older_version(tfserving_testdata, tmp_path):
    root = _base(
        tfserving_testdata,
        tmp_path,
        body='    model_version_policy { latest {} }\n    version_labels { key: "old" value: 123 }\n',
    )
    assert _found(lint_base_folder(root)) == [
        (
            "error",
            (
                "half: version label 'old' points at version 123, which TF Serving does not serve (it is on "
                "disk, but model_version_policy latest does not serve it)"
            ),
        ),
        ("info", "half: versions 123, 124; TF Serving serves 124 (model_version_policy latest)"),
    ]
    # num_versions 0 is the proto3 default: TF Serving serves max(num_versions, 1)
    assert VersionPolicy("latest", num_versions=0, explicit=True).served([1, 2, 3]) == [3]
    assert VersionPolicy("latest", num_versions=2, explicit=True).served([3, 1, 2]) == [2, 3]


def test_all_serves_every_version_and_valid_labels_only_warn(tfserving_testdata, tmp_path):
    root = _base(
        tfserving_testdata,
        tmp_path,
        body="    model_version_policy { all {} }\n"
        "    version_labels { key: 'stable' value: 123 }\n    version_labels { key: 'canary' value: 124 }\n",
    )
    findings = lint_base_folder(root)
    assert _found(findings) == [
        (
            "warning",
            (
                "half: version_labels (canary -> 124, stable -> 123) need tensorflow_model_server "
                "--allow_version_labels_for_unavailable_models=true to start with this config"
            ),
        ),
        ("info", "half: versions 123, 124; TF Serving serves 123, 124 (model_version_policy all)"),
    ]
    assert findings[0].hint == LABEL_FLAG_HINT.format(v=124)


def test_no_policy_keeps_the_default_message(tfserving_testdata, tmp_path):
    root = _base(tfserving_testdata, tmp_path)
    assert _found(lint_base_folder(root)) == [
        ("info", "half: versions 123, 124; TF Serving serves 124 by default (model_version_policy latest)")
    ]
    # an empty policy block is POLICY_CHOICE_NOT_SET, i.e. latest
    (root / CONFIG_FILE).write_text(
        'model_config_list { config { name: "half" base_path: "/models/half" model_platform: "tensorflow" '
        "model_version_policy {} } }\n"
    )
    assert _found(lint_base_folder(root)) == [
        ("info", "half: versions 123, 124; TF Serving serves 124 (model_version_policy latest)")
    ]


# ------------------------------------------------------------------ config problems


@pytest.mark.parametrize(
    ("policy", "problem"),
    [
        (
            "model_version_policy { latest_once {} }",
            "model_version_policy has unknown field(s) latest_once (TF Serving knows latest, all, specific)",
        ),
        (
            "model_version_policy { latest {} all {} }",
            "model_version_policy sets latest and all; it takes only one of latest, all, specific",
        ),
        (
            "model_version_policy { specific { versions: [123, x] } }",
            "model_version_policy specific version 'x' is not an integer",
        ),
        (
            "model_version_policy { latest { num_versions: -1 } }",
            "model_version_policy latest num_versions '-1' is not a non-negative integer",
        ),
        (
            "version_labels { key: 'a' value: 'one' }",
            "version_labels 'a' value 'one' is not an integer version",
        ),
    ],
)
def test_unparseable_policy_or_label_is_an_error(tfserving_testdata, tmp_path, policy, problem):
    root = _base(tfserving_testdata, tmp_path, body=f"    {policy}\n")
    errors = [f for f in lint_base_folder(root) if f.level == "error"]
    assert [(f.message, f.hint) for f in errors][:1] == [
        (
            f"{root / CONFIG_FILE}: model half: {problem}",
            (
                "TF Serving fails with 'Error parsing text-format tensorflow.serving.ModelServerConfig'; "
                "fix the text"
            ),
        )
    ]


def test_base_path_elsewhere_still_checks_labels_against_specific(tmp_path):
    root = tmp_path / "models"
    root.mkdir()
    (root / CONFIG_FILE).write_text(
        "model_config_list {\n  config {\n    name: 'far'\n    base_path: '/srv/far'\n"
        "    model_platform: 'tensorflow'\n    model_version_policy { specific { versions: 1 } }\n"
        "    version_labels { key: 'stable' value: 1 }\n    version_labels { key: 'next' value: 2 }\n"
        "  }\n}\n"
    )
    assert _found(lint_base_folder(root)) == [
        (
            "error",
            (
                "far: version label 'next' points at version 2, which TF Serving does not serve "
                "(model_version_policy specific {versions: 1} does not include it)"
            ),
        ),
        ("warning", f"{root / CONFIG_FILE}: model far base_path /srv/far is not here (/srv/far)"),
        (
            "warning",
            (
                "far: version_labels (stable -> 1) need tensorflow_model_server "
                "--allow_version_labels_for_unavailable_models=true to start with this config"
            ),
        ),
    ]


# ------------------------------------------------------------------ parsing


def test_parse_policy_and_labels_in_every_text_format_spelling():
    text = (
        "# models\n"
        "model_config_list: {\n"
        "  config: {\n    name: 'a',\n    base_path: '/models/a',\n    model_platform: 'tensorflow',\n"
        "    model_version_policy: { specific: { versions: [1, 0x2] versions: 5 } }\n"
        "    version_labels: [{ key: 'stable', value: 1 }, { key: 'canary', value: 2 }]\n  },\n"
        "  config { name: 'b' base_path: '/models/b' model_platform: 'tensorflow'\n"
        "    model_version_policy { latest { num_versions: 3 } }  # keep three\n"
        "    version_labels { key: 'x' value: 1 } version_labels { key: 'x' value: 3 }\n  }\n"
        "  config { name: 'c' base_path: '/models/c' model_platform: 'tensorflow' "
        "model_version_policy { all: {} } }\n"
        "  config { name: 'd' base_path: '/models/d' model_platform: 'tensorflow' }\n"
        "}\n"
    )
    a, b, c, d = parse_model_config(text)
    assert a.policy == VersionPolicy("specific", versions=(1, 2, 5), explicit=True)
    assert a.labels == {"stable": 1, "canary": 2} and a.problems == []
    assert a.policy.describe() == "specific {versions: [1, 2, 5]}"
    assert b.policy == VersionPolicy("latest", num_versions=3, explicit=True)
    assert b.labels == {"x": 3}  # a repeated map key: the last entry wins
    assert b.policy.describe() == "latest {num_versions: 3}"
    assert c.policy == VersionPolicy("all", explicit=True) and c.labels == {}
    assert d.policy == VersionPolicy() and not d.policy.explicit and d.labels == {} and d.problems == []
    assert [e.name for e in (a, b, c, d)] == ["a", "b", "c", "d"]
    # merging keeps an entry's policy and labels verbatim
    merged = merge_model_config(text, "e", "/models/e")
    again = {e.name: e for e in parse_model_config(merged)}
    assert (
        again["a"].policy == a.policy
        and again["b"].labels == {"x": 3}
        and again["e"].policy == VersionPolicy()
    )


def test_commented_out_labels_and_policies_are_comments():
    """A `#` outside quotes starts a comment even on a line with quotes (a commented-out label has one)."""
    text = (
        "model_config_list {\n"
        "  config { name: 'a#1' base_path: '/models/a' model_platform: 'tensorflow'  # the # in the name stays\n"
        "    # version_labels { key: \"canary\" value: 7 }\n"
        "    # model_version_policy { specific { versions: 7 } }  \"quoted\"\n"
        "  }\n"
        "}\n"
    )
    (entry,) = parse_model_config(text)
    assert entry.name == "a#1"
    assert entry.labels == {} and entry.policy == VersionPolicy() and entry.problems == []


# ------------------------------------------------------------------ CLI


def test_cli_json_keys_and_exit_code(tfserving_testdata, tmp_path, capsys):
    from workbench.cli import main

    root = _base(
        tfserving_testdata,
        tmp_path,
        versions=("00000123",),
        body="    model_version_policy { specific { versions: 7 } }\n"
        '    version_labels { key: "stable" value: 99 }\n',
    )
    assert main(["lint", str(root), "--json"]) == 1
    payload = json.loads(capsys.readouterr().out)
    assert set(payload) == {"path", "errors", "warnings", "findings"}
    assert payload["errors"] == 2 and payload["warnings"] == 0
    assert all(set(f) == {"level", "message", "hint"} for f in payload["findings"])
    assert payload["findings"][-1]["message"] == (
        "half: versions 123; TF Serving serves nothing (model_version_policy specific {versions: 7})"
    )
    assert main(["lint", str(root)]) == 1
    assert capsys.readouterr().out.endswith("2 error(s), 0 warning(s)\n")
