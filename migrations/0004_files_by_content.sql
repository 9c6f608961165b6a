-- `autogenesis inspect FOLDER` finds the build that wrote a package folder by
-- its files' content: look files up by sha256.
CREATE INDEX files_sha256 ON files (sha256);
