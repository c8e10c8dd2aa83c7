import pytest

from ie.data.documents import Document, EntityAnnotation, RelationAnnotation
from ie.data.formats.brat import AnnotationError, read_document, read_folder, write_document

TEXT = "Denis Manturov met Emomali Rahmon in Dushanbe."


def test_reads_entities_and_relations(write_pair):
    txt = write_pair(
        "doc",
        TEXT,
        "T1\tPER 0 14\tDenis Manturov\nT2\tPER 19 33\tEmomali Rahmon\n"
        "#1\tAnnotatorNotes T1\tchecked\nR1\tmet_with Arg1:T1 Arg2:T2\n",
    )
    doc = read_document(txt)
    assert doc.id == "doc" and doc.text == TEXT
    assert doc.entities[1] == EntityAnnotation("T2", "PER", 19, 33, "Emomali Rahmon", 2)
    assert doc.relations == [RelationAnnotation("R1", "met_with", "T1", "T2", 4)]


@pytest.mark.parametrize(
    "ann, line, message",
    [
        ("T1\tPER 0 14 Denis Manturov\n", 1, "3 tab-separated fields"),
        ("T1\tPER 0 x\tDenis\n", 1, "offsets must be integers"),
        ("T1\tPER 0 5;6 14\tDenis Manturov\n", 1, "discontinuous"),
        ("T1\tPER 0 14\tDenis Manturov\nT1\tPER 19 33\tEmomali Rahmon\n", 2, "duplicate id 'T1'"),
        ("T1\tPER 0 14\tDenis Manturov\nR1\tmet_with Arg1:T1\n", 2, "expected 'LABEL Arg1"),
        ("E1\tMeeting:T1\n", 1, "unsupported annotation 'E1'"),
        ("A1\tNegated T1\n", 1, "unsupported annotation"),
    ],
)
def test_malformed_lines_name_file_and_line(write_pair, ann, line, message):
    txt = write_pair("bad", TEXT, ann)
    with pytest.raises(AnnotationError, match=message) as err:
        read_document(txt)
    assert err.value.line == line and str(err.value).startswith(f"{txt.with_suffix('.ann')}:{line}:")


def test_missing_partners_and_bad_encoding(tmp_path):
    (tmp_path / "a.txt").write_text(TEXT)
    with pytest.raises(AnnotationError, match="annotation file a.ann missing"):
        read_folder(tmp_path)
    (tmp_path / "a.txt").unlink()
    (tmp_path / "b.ann").write_text("")
    with pytest.raises(AnnotationError, match="text file b.txt missing"):
        read_folder(tmp_path)
    (tmp_path / "b.txt").write_bytes(b"Caf\xe9 Lipetsk")
    with pytest.raises(AnnotationError, match="not valid UTF-8") as err:
        read_folder(tmp_path)
    assert "b.txt" in str(err.value)
    with pytest.raises(AnnotationError, match="no .txt/.ann pairs"):
        read_folder(tmp_path / "nothing") if (tmp_path / "nothing").mkdir() is None else None


def test_write_then_read_is_identity(tmp_path):
    doc = Document(
        "d",
        "Lipetsk\r\nKhujand ’s",
        [EntityAnnotation("T1", "LOC", 0, 7, "Lipetsk"), EntityAnnotation("T2", "LOC", 9, 16, "Khujand")],
        [RelationAnnotation("R1", "located_in", "T1", "T2")],
    )
    again = read_document(write_document(doc, tmp_path).with_suffix(".txt"))
    assert again.text == doc.text
    assert [(e.label, e.start, e.end, e.text) for e in again.entities] == [
        (e.label, e.start, e.end, e.text) for e in doc.entities
    ]
    assert [(r.label, r.head, r.tail) for r in again.relations] == [("located_in", "T1", "T2")]
