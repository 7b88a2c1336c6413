-- avvikelsebot 0.3.0 (data format 3): a document carries its secrecy marking, a case its
-- public title and a hold against culling, inside `doc`. Older releases cannot read such
-- cases, so this version number makes their writers refuse the database (schema_version)
-- instead of reading what they do not understand.
COMMENT ON TABLE cases IS 'avvikelsebot format 3: doc holds documents[].secrecy, public_title, hold';
