"""mathdl_grading.formgrader_guard: markup in formgrader's paths is refused, other paths are left
alone.
"""


def test_formgrader_guard_refuses_markup_in_formgrader_paths_only():
    from mathdl_grading.formgrader_guard import is_unsafe

    assert is_unsafe("/formgrader/manage_students/%22%3Balert(1)%2F%2F")
    assert is_unsafe("/user/ann/formgrader/manage_students/x%3C%2Fscript%3E/ps1")
    assert is_unsafe("/services/formgrader-mathdl/formgrader/gradebook/a'b")
    assert not is_unsafe("/formgrader/manage_students/ann.lee-2/01_tensors")
    assert not is_unsafe("/formgrader/submissions/61b3378264ae47879d3d4434ff9f6d07/")
    assert not is_unsafe("/api/contents/a%22b.ipynb")  # not formgrader's
