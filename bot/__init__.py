"""The chatbot: answer decisions, conversations, handoff to humans, delivery and gap reports."""
