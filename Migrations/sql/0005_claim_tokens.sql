-- Fences that cannot repeat: every claim draws a random token, and every fenced write checks the run's
-- owner and token as well as its epoch. Claims commit asynchronously, so a database crash can undo one and
-- the next claim then hands out the same epoch again; it never hands out the same token.
ALTER TABLE runs ADD COLUMN claim_token uuid;

