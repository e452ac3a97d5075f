"""The Office environment: a Word-style application over real .docx documents."""
