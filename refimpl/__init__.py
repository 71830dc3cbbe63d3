"""refimpl: a readable reference for the token and sampling math of OpenAI text-generation APIs."""
