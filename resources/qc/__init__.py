"""Quality control of the character: identity scores of stills and shots."""
