"""The data layer: annotated documents in, validated sentence records and Hugging Face datasets out.

schema (labels and relation signatures) · bio (tags <-> spans) · text (sentences, words, character
spans -> words) · documents (format-neutral annotations) · formats (brat, label_studio, doccano,
spacy_docbin, conll_bio, conll04: files <-> documents) · convert (format to format) · readers (by
``data.format``) · label_map (another schema's labels) · validate, problems (checks) · records (what
every reader produces) · folds (splits, cross-validation) · corpus (a data config -> records and
splits) · dataset (the NER and RE ``DatasetDict``s).
"""
